package dev.kullback.internal;

/** Shape checks with messages that name the arguments and their shapes. */
public final class Shapes {
    private Shapes() {
    }

    public static void requireValid(int rows, int cols) {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("rows and cols must be positive, got [" + rows + ", " + cols + "]");
        }
    }

    public static void requireSame(String a, AbstractTensor x, String b, AbstractTensor y) {
        if (x.rows() != y.rows() || x.cols() != y.cols()) {
            throw new IllegalArgumentException(a + " " + x.shape() + " and " + b + " " + y.shape()
                    + " must have the same shape");
        }
    }
}
