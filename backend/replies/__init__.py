"""The AI reply pipeline and its decision records."""
