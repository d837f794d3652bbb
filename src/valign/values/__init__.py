"""valign.values."""
