"""What a user starts (run, score, tune): each orchestrates the layers below it."""
