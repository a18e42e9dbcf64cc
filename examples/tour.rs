fn main() { autopar::placeholder(); }
