"""The review desk: submissions, approver inboxes, decisions and the publish schedule."""
