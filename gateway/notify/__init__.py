"""Notifications: the notifier protocol, one module per channel, and their delivery outbox."""
