package dev.kullback.cuda;

import static jcuda.nvptxcompiler.JNvPTXCompiler.nvPTXCompilerCompile;
import static jcuda.nvptxcompiler.JNvPTXCompiler.nvPTXCompilerCreate;
import static jcuda.nvptxcompiler.JNvPTXCompiler.nvPTXCompilerDestroy;
import static jcuda.nvptxcompiler.JNvPTXCompiler.nvPTXCompilerGetCompiledProgramSize;
import static jcuda.nvptxcompiler.JNvPTXCompiler.nvPTXCompilerGetErrorLog;
import static jcuda.nvptxcompiler.JNvPTXCompiler.nvPTXCompilerGetErrorLogSize;
import static jcuda.nvptxcompiler.JNvPTXCompiler.nvPTXCompilerGetVersion;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import jcuda.nvptxcompiler.nvPTXCompileResult;
import jcuda.nvptxcompiler.nvPTXCompilerHandle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Proves that a CUDA 12 driver can load the shipped PTX, with no GPU: every module declares PTX ISA 8.0
 * (what CUDA 12.0 accepts) and compiles with JCuda's CUDA 12 PTX compiler library for every supported sm.
 */
class PtxCompatibilityTest {
    private static final List<String> ARCHITECTURES = List.of("sm_75", "sm_80", "sm_86", "sm_89", "sm_90");
    private static final Pattern VERSION = Pattern.compile("^\\.version (\\d+)\\.(\\d+)$", Pattern.MULTILINE);

    static List<String> modules() throws IOException {
        try (Stream<Path> sources = Files.list(Path.of("kernels"))) {
            return sources.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".cu"))
                    .map(n -> n.substring(0, n.length() - 3)).sorted().collect(Collectors.toList());
        }
    }

    static Stream<Arguments> modulesAndArchitectures() throws IOException {
        return modules().stream().flatMap(m -> ARCHITECTURES.stream().map(sm -> Arguments.of(m, sm)));
    }

    @Test
    void everyKernelSourceShipsPtx() throws IOException {
        List<String> modules = modules();
        assertFalse(modules.isEmpty(), "no kernels/*.cu found");
        for (String module : modules) {
            assertTrue(JCudaGpu.readPtx(module).length > 100, module + ".ptx is missing or empty");
        }
    }

    @ParameterizedTest(name = "{0}.ptx declares PTX ISA 8.0, which CUDA 12.0 drivers load")
    @MethodSource("modules")
    void declaresIsaThatCuda12Loads(String module) {
        String ptx = new String(JCudaGpu.readPtx(module), StandardCharsets.US_ASCII);
        Matcher version = VERSION.matcher(ptx);
        assertTrue(version.find(), module + ".ptx has no .version line");
        assertEquals(JCudaGpu.PTX_ISA, version.group(1) + "." + version.group(2), module + ".ptx .version");
        assertTrue(ptx.contains(".target " + JCudaGpu.PTX_TARGET), module + ".ptx must target compute_75 (.target sm_75)");
    }

    @ParameterizedTest(name = "{0}.ptx compiles for {1} with the CUDA 12 PTX compiler")
    @MethodSource("modulesAndArchitectures")
    void compilesWithCuda12PtxCompiler(String module, String architecture) {
        int[] major = {0};
        int[] minor = {0};
        assertEquals(nvPTXCompileResult.NVPTXCOMPILE_SUCCESS, nvPTXCompilerGetVersion(major, minor));
        assertEquals(12, major[0], "JNvPTXCompiler should be the CUDA 12 compiler");

        byte[] ptx = JCudaGpu.readPtx(module);
        nvPTXCompilerHandle compiler = new nvPTXCompilerHandle();
        assertEquals(nvPTXCompileResult.NVPTXCOMPILE_SUCCESS, nvPTXCompilerCreate(compiler, ptx.length - 1, ptx));
        try {
            int result = nvPTXCompilerCompile(compiler, 1, new String[] {"--gpu-name=" + architecture});
            assertEquals(nvPTXCompileResult.NVPTXCOMPILE_SUCCESS, result,
                    () -> module + ".ptx for " + architecture + ": " + errorLog(compiler));
            long[] size = {0};
            nvPTXCompilerGetCompiledProgramSize(compiler, size);
            assertTrue(size[0] > 0, "empty cubin");
        } finally {
            nvPTXCompilerDestroy(compiler);
        }
    }

    private static String errorLog(nvPTXCompilerHandle compiler) {
        long[] size = {0};
        nvPTXCompilerGetErrorLogSize(compiler, size);
        byte[] log = new byte[(int) size[0]];
        nvPTXCompilerGetErrorLog(compiler, log);
        return new String(log, StandardCharsets.US_ASCII).trim();
    }
}
