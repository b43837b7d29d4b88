"""Brand-PR as the hub: material the units send up (Art. 23) and linked campaigns (Art. 13)."""
