"""valign.report."""
