"""The incident report (postmortem) rendered for a ticket: Markdown and a standalone HTML page."""
from rca_tui.report.render import to_html, to_markdown

__all__ = ["to_html", "to_markdown"]
