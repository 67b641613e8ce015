package dev.kullback.cuda;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import jcuda.driver.CUstream;

/**
 * A JCuda {@link CUstream} for a raw {@code cudaStream_t}/{@code CUstream} value taken from another framework.
 * JCuda has the constructor, {@code CUstream(long)}, but keeps it package-private, and its public ones can only copy
 * a handle JCuda made itself. JCuda is never an explicit module (an unnamed or automatic one), so its packages are
 * open: a private lookup reaches that constructor without touching any field, and fails here, with the reason, if a
 * future JCuda ever closes it.
 */
final class RawStream {
    private static final MethodHandle NEW_STREAM = lookup();

    private RawStream() {
    }

    /** The stream whose driver handle is {@code handle}; 0 is the legacy default stream ({@code new CUstream()}). */
    static CUstream of(long handle) {
        if (handle == 0) {
            return new CUstream();
        }
        if (NEW_STREAM == null) {
            throw new IllegalStateException("this JCuda version has no CUstream(long) constructor: open the device with "
                    + "a CUstream instead of a raw handle");
        }
        try {
            return (CUstream) NEW_STREAM.invokeExact(handle);
        } catch (Throwable e) {
            throw new IllegalStateException("cannot make a JCuda CUstream for handle 0x" + Long.toHexString(handle), e);
        }
    }

    private static MethodHandle lookup() {
        try {
            return MethodHandles.privateLookupIn(CUstream.class, MethodHandles.lookup())
                    .findConstructor(CUstream.class, MethodType.methodType(void.class, long.class));
        } catch (ReflectiveOperationException | SecurityException | IllegalArgumentException e) {
            return null;
        }
    }
}
