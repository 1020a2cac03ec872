//! Work in progress: generated shapes only so far.
mod generated;
