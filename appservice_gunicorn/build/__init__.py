"""App Service's build output (Oryx): its manifest, and its archives extracted safely,
atomically and once."""
