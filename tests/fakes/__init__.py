"""The loopback fakes of Slack and Teams, and the harness that drives the bot through them."""
