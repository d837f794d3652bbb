"""valign.train."""
