package dev.kullback;

import java.util.List;

/** A [rows, cols] test shape; prints as "[rows, cols]" in test names. */
public record Shape(int rows, int cols) {
    /**
     * The shapes of the parity tests: degenerate ones, warp- and block-size edges (32, 1024, 4096 and one past),
     * tall-thin, one long row, and more rows than one CUDA block's threads, with row widths below and at a multiple of
     * the CPU's vector lanes, whose short-row groups of rows they end with a partial group ([257, 31], [1025, 32]).
     */
    public static final List<Shape> PARITY = TestDevices.shapes(List.of(
            new Shape(1, 1), new Shape(1, 2), new Shape(3, 33), new Shape(4, 32), new Shape(7, 1024),
            new Shape(5, 1025), new Shape(64, 1000), new Shape(2, 4097), new Shape(1000, 3), new Shape(1, 262144),
            new Shape(257, 31), new Shape(1025, 32)));

    /** A smaller set for the property tests. (Both lists are trimmed on the driver shim: TestDevices.shapes.) */
    public static final List<Shape> SMALL = TestDevices.shapes(List.of(
            new Shape(1, 1), new Shape(3, 33), new Shape(8, 1024), new Shape(2, 4097), new Shape(300, 7)));

    public Shape {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("bad test shape [" + rows + ", " + cols + "]");
        }
    }

    public int size() {
        return Math.multiplyExact(rows, cols);
    }

    @Override
    public String toString() {
        return "[" + rows + ", " + cols + "]";
    }
}
