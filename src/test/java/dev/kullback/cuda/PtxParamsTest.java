package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The PTX parameter lists JCudaGpu checks each launch against (the launches themselves: the driver-shim tests). */
class PtxParamsTest {
    private static final List<String> MODULES = List.of("log_softmax", "kl_div", "reduce", "distillation",
            "cross_entropy", "jsd", "entropy", "keras_kl", "gaussian_kl", "tvd", "convert");

    @Test
    void everyShippedEntryHasOnlyTypesALaunchCanPass() {
        for (String module : MODULES) {
            Map<String, List<String>> entries = PtxParams.of(new String(JCudaGpu.readPtx(module),
                    StandardCharsets.US_ASCII));
            assertFalse(entries.isEmpty(), module);
            entries.forEach((entry, types) -> {
                assertFalse(types.isEmpty(), module + "." + entry);
                assertTrue(Set.of(".u64", ".u32", ".f32").containsAll(types), module + "." + entry + " " + types);
            });
        }
        // x, its row stride (64-bit), y, its row stride, rows, cols, logMode: the same for every element type
        Map<String, List<String>> logSoftmax = PtxParams.of(new String(JCudaGpu.readPtx("log_softmax"),
                StandardCharsets.US_ASCII));
        for (String entry : List.of("softmax_rows_block", "softmax_rows_block_bf16", "softmax_rows_warp_f16")) {
            assertEquals(List.of(".u64", ".u64", ".u64", ".u64", ".u32", ".u32", ".u32"), logSoftmax.get(entry), entry);
        }
    }

    @Test
    void aLaunchMustMatchTheParametersOneForOne() {
        List<String> types = List.of(".u64", ".u32", ".f32");
        assertDoesNotThrow(() -> PtxParams.check("k", types, new Object[] {1L, 2, 3f}));
        assertEquals("argument 1 of k is Long 2; the PTX parameter is .u32, which takes Integer", assertThrows(
                IllegalArgumentException.class, () -> PtxParams.check("k", types, new Object[] {1L, 2L, 3f}))
                .getMessage());
        assertEquals("argument 2 of k is null; the PTX parameter is .f32, which takes Float", assertThrows(
                IllegalArgumentException.class, () -> PtxParams.check("k", types, new Object[] {1L, 2, null}))
                .getMessage());
        assertEquals("k takes 3 arguments [.u64, .u32, .f32], the launch passes 2", assertThrows(
                IllegalArgumentException.class, () -> PtxParams.check("k", types, new Object[] {1L, 2})).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PtxParams.check("k", List.of(".f64"),
                new Object[] {1.0})).getMessage().contains("which launches do not support"));
    }
}
