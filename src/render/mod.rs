//! What people look at rather than parse: the embeddable SVG cards and the status page at `/`.
//! Pure functions from the figures milepost serves (the JSON bodies, exactly as served, and a
//! few facts about the connection) to text, every piece of which is escaped on the way out.

mod bodies;
pub mod cards;
pub mod format;
pub mod page;
