"""Data: element properties, compositions (formula <-> fractions), the bundled datasets and
their builder, and the physics oracle that labels the bundled RHEA table."""
