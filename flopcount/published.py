"""Published figures: what a paper or model card printed for a model, a layer or a block
instance (a plain class: it is built for every report, so it stays cheap to import)."""

from __future__ import annotations


class Published:
    """What a paper (or a model card) printed for a model, a layer or a block instance:
    ``figures`` maps a count (``params``, ``macs``, ``ops``) to the printed
    :class:`flopcount.units.Figure`; ``source``, ``note`` and ``url`` are text.
    ``published["macs"]`` and ``published.get("macs")`` read a figure or a text field."""

    __slots__ = ("figures", "source", "note", "url")
    TEXT = ("source", "note", "url")

    def __init__(
        self, figures: dict | None = None, source: str | None = None, note: str | None = None, url: str | None = None
    ):
        self.figures = {} if figures is None else figures
        self.source, self.note, self.url = source, note, url

    @classmethod
    def of(cls, raw) -> Published | None:
        """From the loader's mapping (figures and text side by side); None when empty."""
        if raw is None or isinstance(raw, Published):
            return raw
        if not raw:
            return None
        text = {k: raw[k] for k in cls.TEXT if k in raw}
        return cls({k: v for k, v in raw.items() if k not in cls.TEXT}, **text)

    def get(self, key: str, default=None):
        if key in self.TEXT:
            value = getattr(self, key)
            return default if value is None else value
        return self.figures.get(key, default)

    def __getitem__(self, key: str):
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def __bool__(self) -> bool:
        return bool(self.figures) or any(getattr(self, k) is not None for k in self.TEXT)

    def has_both(self) -> bool:
        """Both params and MACs published (a paper's per-row table, as GoogLeNet's Table 1)."""
        return "params" in self.figures and "macs" in self.figures

    def __repr__(self) -> str:
        return f"Published({self.figures!r}, source={self.source!r})"
