fn main() {} // placeholder while the benchmark is written
