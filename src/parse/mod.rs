//! Parsers for the values that storage and sign-in log exports share: caller IP addresses,
//! object paths and file names from `ObjectKey` and `Uri`, timestamps in ISO 8601 and portal
//! locale formats, and the window lengths given on the command line. Each module uses only
//! `std`, and none of them reads files or guesses a format beyond its documented rules.

pub mod duration;
pub mod ip;
pub mod time;
pub mod uri;
