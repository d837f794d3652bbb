"""valign.evals."""
