//! Loosely written Chinese addresses (地址匹配): normalising and matching them to buildings.
//! STUB: being written.
