"""valign.guard."""
