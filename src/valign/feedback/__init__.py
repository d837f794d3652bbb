"""valign.feedback."""
