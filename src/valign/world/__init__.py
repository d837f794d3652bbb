"""valign.world."""
