"""What the bot does for each kind of message or action, independent of the chat platform."""
