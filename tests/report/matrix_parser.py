"""Read the affordance matrix back out of report.html (stdlib html.parser; no test dependency)."""
from html.parser import HTMLParser


class _MatrixParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inside = False
        self.columns: list[str] = []
        self.rows: dict = {}
        self._row = None
        self._cell = None  # (kind, attrs) of the cell being read
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "affordance-matrix":
            self.inside = True
        if not self.inside:
            return
        if tag == "tr" and "data-contender" in attrs:
            self._row = attrs["data-contender"]
            self.rows[self._row] = []
        elif tag == "th" and "col" in (attrs.get("class") or "").split():
            self._cell, self._text = ("col", attrs), ""
        elif tag == "td" and "cell" in (attrs.get("class") or "").split() and self._row is not None:
            self._cell, self._text = ("cell", attrs), ""

    def handle_data(self, data):
        if self._cell is not None:
            self._text += data

    def handle_endtag(self, tag):
        if not self.inside:
            return
        if tag in ("th", "td") and self._cell is not None:
            kind, attrs = self._cell
            if kind == "col":
                self.columns.append(attrs.get("title", "").split(": ", 1)[-1].split(" (")[0])
            else:
                self.rows[self._row].append({"text": self._text.strip(), "class": attrs.get("class", ""),
                                             "title": attrs.get("title", "")})
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self.inside = False


def read_matrix(html: str) -> dict:
    """{contender: {column: {"text", "class", "title"}}}, columns named by affordance
    ("weights", "train.gender", "spurious_concept", "examples", "guard")."""
    parser = _MatrixParser()
    parser.feed(html)
    return {label: dict(zip(parser.columns, cells)) for label, cells in parser.rows.items()}
