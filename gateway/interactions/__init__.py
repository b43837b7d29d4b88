"""Comments, replies, reposts and comment switches through the gate (Art. 22;
docs/interactions.md)."""
