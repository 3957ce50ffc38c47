"""ccpulse: real-time contact-centre KPIs (see ../shared/DESIGN.md)."""

__version__ = "0.1.0"
