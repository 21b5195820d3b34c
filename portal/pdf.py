"""Tagged PDF (PDF/UA-1) from our own HTML with WeasyPrint: Cyrillic text in DejaVu Sans, a
document language and title, so screen readers can read certificates and card summaries.

Rendering is CPU-heavy and runs in background jobs only (``portal.export.jobs``,
``portal.certificates.jobs``), never in a request. What made it slow, measured with cProfile on
a 6-page card summary (≈ 600 ms of CPU before, ≈ 330 ms after, on the CI kind of machine):

- automatic table widths (every cell laid out twice to measure it): each table now has fixed
  widths (``table-layout: fixed`` and ``<col>`` classes below), ≈ 15 %;
- matching every element against WeasyPrint's full HTML user-agent stylesheet (190 rules for
  forms, frames, ruby, bidi… none of which a PDF of ours holds): ``PDF_UA_CSS`` is the short
  list of rules our templates need, ≈ 25 %;
- the stylesheets and font configuration are parsed and built once per worker thread, not per file;
- table rules: one line under each row (``border-collapse: separate``, bottom borders only), not
  a collapsed grid of four borders per cell, which WeasyPrint resolves and draws cell by cell, ≈ 5 %.

What remains is WeasyPrint's line breaking (Pango), drawing and writing the tagged PDF.
"""

from __future__ import annotations

import threading

from flask import render_template

# The rules of WeasyPrint's HTML5 user-agent stylesheet for the elements our PDF templates use
# (html5_ua.css, WeasyPrint 70): display, default margins, bold headings, bookmarks, links.
PDF_UA_CSS = r"""
[hidden], head, link, meta, script, style, template, title { display: none }
html, body, div, section, header, footer, main, nav, h1, h2, h3, h4, p, dl, dt, dd, ul, ol,
  blockquote, figure, figcaption, address { display: block }
li { display: list-item }
table { display: table; border-spacing: 2px; border-collapse: separate; text-indent: initial }
caption { display: table-caption } colgroup { display: table-column-group } col { display: table-column }
thead { display: table-header-group } tbody { display: table-row-group } tfoot { display: table-footer-group }
tr { display: table-row } td, th { display: table-cell; padding: 1px }
thead, tbody, tfoot { vertical-align: middle } tr, td, th { vertical-align: inherit }
table, td, th { border-color: gray } thead, tbody, tfoot, tr { border-color: inherit }
body { margin: 8px }
p, dl, ul, ol, blockquote, figure { margin-top: 1em; margin-bottom: 1em }
dd { margin-left: 40px } ul, ol { padding-left: 40px }
ol { list-style-type: decimal } ul { list-style-type: disc }
h1 { font-size: 2em; margin: .67em 0 } h2 { font-size: 1.5em; margin: .83em 0 } h3 { font-size: 1.17em; margin: 1em 0 }
h1, h2, h3, h4, b, strong, th { font-weight: bold } em, i, cite { font-style: italic }
h1 { bookmark-level: 1 } h2 { bookmark-level: 2 } h3 { bookmark-level: 3 }
h1, h2, h3 { bookmark-label: content(text) }
small, sub, sup { font-size: smaller } sub { vertical-align: sub } sup { vertical-align: super }
:link { color: blue; text-decoration: underline }
br::before { content: "\A"; white-space: pre-line }
img, svg { overflow: hidden }
::marker { font-variant-numeric: tabular-nums; white-space: pre; text-transform: none }
"""

PDF_CSS = """
@page { size: A4; margin: 18mm 16mm 20mm;
  @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt; } }
html { font-family: "DejaVu Sans", sans-serif; font-size: 10pt; line-height: 1.4; color: #000; }
h1 { font-size: 15pt; margin: 0 0 6pt; } h2 { font-size: 12pt; margin: 14pt 0 4pt; }
h3 { font-size: 10.5pt; margin: 10pt 0 3pt; }
table { border-collapse: separate; border-spacing: 0; width: 100%; margin: 4pt 0 8pt; table-layout: fixed;
  border-top: 0.75pt solid #555; }
caption { text-align: left; font-weight: bold; }
th, td { border-bottom: 0.5pt solid #555; padding: 2pt 4pt; text-align: left; vertical-align: top;
  overflow-wrap: break-word; }
th { background: #eee; } .meta { color: #333; font-size: 9pt; } .qr { float: right; width: 32mm; margin-left: 6mm; }
.address { white-space: nowrap; }
col.label { width: 32%; } col.code { width: 32mm; } col.date { width: 27mm; } col.short { width: 24mm; }
col.mid { width: 32mm; } col.person { width: 40mm; } col.kind { width: 28mm; }
"""


_local = threading.local()


def _weasyprint():
    """WeasyPrint's HTML class with our user-agent stylesheet, our stylesheet and the fonts,
    built once per thread (a worker's threads never share Pango's font map)."""
    if not hasattr(_local, "made"):
        _local.made = _build()
    return _local.made


def _build():
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    user_agent = CSS(string=PDF_UA_CSS, font_config=fonts)

    class PdfHTML(HTML):
        def _ua_stylesheets(self, forms=False):
            return [user_agent]

    return PdfHTML, CSS(string=PDF_CSS, font_config=fonts), fonts


def render_pdf(template: str, **context) -> bytes:
    """Render ``template`` (a complete HTML document with ``lang`` and ``<title>``) to PDF/UA-1."""
    html_class, stylesheet, fonts = _weasyprint()
    html = render_template(template, **context)
    return html_class(string=html, base_url=".").write_pdf(
        stylesheets=[stylesheet], font_config=fonts, pdf_variant="pdf/ua-1"
    )
