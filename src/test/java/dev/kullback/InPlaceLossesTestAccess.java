package dev.kullback;

import java.util.List;

/** {@link InPlaceLossesTest}'s cases and check, for the reverse-scheduled simulator's test in dev.kullback.cuda. */
public final class InPlaceLossesTestAccess {
    private InPlaceLossesTestAccess() {
    }

    public static List<?> cases() {
        return InPlaceLossCase.all();
    }

    public static int[][] shapes() {
        return InPlaceLossesTest.SHAPES.clone();
    }

    public static void check(Device device, Object c, int rows, int cols) {
        InPlaceLossesTest.check(device, (InPlaceLossCase) c, rows, cols);
    }
}
