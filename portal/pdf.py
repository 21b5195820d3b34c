"""Tagged PDF (PDF/UA-1) from our own HTML with WeasyPrint: Cyrillic text in DejaVu Sans, a
document language and title, so screen readers can read certificates and card summaries."""

from __future__ import annotations

from flask import render_template

PDF_CSS = """
@page { size: A4; margin: 18mm 16mm 20mm;
  @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt; } }
html { font-family: "DejaVu Sans", sans-serif; font-size: 10pt; line-height: 1.4; color: #000; }
h1 { font-size: 15pt; margin: 0 0 6pt; } h2 { font-size: 12pt; margin: 14pt 0 4pt; }
h3 { font-size: 10.5pt; margin: 10pt 0 3pt; }
table { border-collapse: collapse; width: 100%; margin: 4pt 0 8pt; table-layout: fixed; }
caption { text-align: left; font-weight: bold; }
th, td { border: 0.5pt solid #555; padding: 2pt 4pt; text-align: left; vertical-align: top; }
th { background: #eee; } .meta { color: #333; font-size: 9pt; } .qr { float: right; width: 32mm; margin-left: 6mm; }
.address { white-space: nowrap; }
col.label { width: 32%; } col.code { width: 24mm; } col.date { width: 24mm; } col.short { width: 18mm; }
col.mid { width: 32mm; } col.person { width: 40mm; }
"""


def render_pdf(template: str, **context) -> bytes:
    """Render ``template`` (a complete HTML document with ``lang`` and ``<title>``) to PDF/UA-1."""
    from weasyprint import CSS, HTML

    html = render_template(template, **context)
    return HTML(string=html, base_url=".").write_pdf(stylesheets=[CSS(string=PDF_CSS)], pdf_variant="pdf/ua-1")
