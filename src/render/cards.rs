//! The embeddable SVG cards.
