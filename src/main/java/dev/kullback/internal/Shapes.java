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

    /** The same shape, and the same dtype: the tensors of one call share one type (issue 10). */
    public static void requireSame(String a, AbstractTensor x, String b, AbstractTensor y) {
        if (x.rows() != y.rows() || x.cols() != y.cols()) {
            throw new IllegalArgumentException(a + " " + x.shape() + " and " + b + " " + y.shape()
                    + " must have the same shape");
        }
        requireSameType(a, x, b, y);
    }

    /** The tensors of one call share one dtype; a mix names both arguments and their types. */
    public static void requireSameType(String a, AbstractTensor x, String b, AbstractTensor y) {
        if (x.dtype() != y.dtype()) {
            throw new IllegalArgumentException(a + " is " + x.dtype() + " " + x.shape() + " but " + b + " is "
                    + y.dtype() + " " + y.shape() + ": the tensors of one call must share one dtype");
        }
    }

    /** A tensor that must be FLOAT32 ({@code why}: what takes only float32). */
    public static void requireFloat32(String a, AbstractTensor x, String why) {
        if (x.dtype() != dev.kullback.DType.FLOAT32) {
            throw new IllegalArgumentException(a + " is " + x.dtype() + " " + x.shape() + ", but " + why
                    + " takes FLOAT32 only");
        }
    }
}
