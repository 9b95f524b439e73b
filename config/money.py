"""Money is integer fen in our code; yuan exists only at the edges (display, staff input, WeChat's bill)."""

from decimal import Decimal

FEN_PER_YUAN = 100


def yuan_from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / FEN_PER_YUAN).quantize(Decimal("0.01"))


def fen_from_yuan(yuan: Decimal) -> int:
    """Exact conversion: an amount with a fraction of a fen is refused, never rounded."""
    fen = yuan * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise ValueError(f"{yuan} yuan is not a whole number of fen")
    return int(fen)


def format_fen(fen: int) -> str:
    """3990 -> "¥39.90", 128000 -> "¥1,280.00"."""
    sign = "-" if fen < 0 else ""
    whole_yuan, remainder_fen = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}¥{whole_yuan:,}.{remainder_fen:02d}"
