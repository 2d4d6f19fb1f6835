"""One thin module per chat surface: translate platform events to `Incoming` and `Reply` back."""
