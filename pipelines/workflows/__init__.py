"""What a user starts (run, tune, ...): each workflow uses the layers below it."""
