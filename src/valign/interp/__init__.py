"""valign.interp."""
