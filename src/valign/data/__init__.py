"""valign.data."""
