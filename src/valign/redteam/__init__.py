"""valign.redteam."""
