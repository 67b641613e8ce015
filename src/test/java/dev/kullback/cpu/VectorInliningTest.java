package dev.kullback.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A performance guard: C2 must inline every Vector API helper of the kernels (exp, the short rows' exp, log, the
 * kl_div terms, loads) wherever it compiles them. A helper left out of line boxes its vectors, and its loop runs ten
 * times slower while every result stays right, so no other test would notice. Runs {@link InliningProbe} in a
 * HotSpot JVM with {@code -XX:+PrintInlining} and reads C2's decisions, with {@code -Xbatch} (each compilation
 * finishes before the code runs on) so that C2 reaches the kernels on a busy machine too: with background compilation,
 * most workloads were too little compiled to judge there. (The scalar twins and the lane sums after a loop may be left
 * out of line: they run once per call.)
 */
class VectorInliningTest {
    private static final Pattern HELPER = Pattern.compile("(?:PanamaKernels::(?:exp|expNonPositive|log|logPositive"
            + "|logMix|xlogx|klDivTerm|klDivLogTargetTerm|load)|ShortRowExp::exp) \\(\\d+ bytes\\)\\s+(.*)$");

    @ParameterizedTest
    @ValueSource(strings = {"all", "kl", "losses", "alternate", "inplace", "short", "bf16"})
    void vectorHelpersAreAlwaysInlined(String workload) throws Exception {
        assumeTrue(System.getProperty("java.vm.name", "").contains("HotSpot")
                || System.getProperty("java.vm.name", "").contains("OpenJDK"), "needs HotSpot's PrintInlining");
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        Process p = new ProcessBuilder(List.of(java, "--add-modules", "jdk.incubator.vector",
                "-XX:+UnlockDiagnosticVMOptions", "-XX:+PrintInlining", "-Xbatch", "-cp",
                System.getProperty("java.class.path"),
                InliningProbe.class.getName(), workload)).redirectErrorStream(true).start();
        String output;
        try (InputStream in = p.getInputStream()) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            in.transferTo(bytes);
            output = bytes.toString(StandardCharsets.UTF_8);
        }
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), () -> output.substring(Math.max(0, output.length() - 4000)));
        assertTrue(output.contains("probe done"));
        int inlined = 0;
        List<String> refused = new java.util.ArrayList<>();
        for (String line : output.split("\n")) {
            Matcher m = HELPER.matcher(line);
            if (!m.find()) {
                continue;
            }
            String decision = m.group(1).trim();
            if (decision.startsWith("inline")) {
                inlined++;
            } else if (!decision.equals("never executed") && !decision.equals("call site not reached")
                    && !decision.equals("callee is too large")) { // C1's message: C1 does not inline them, fine
                refused.add(line.trim());
            }
        }
        // loads are the JDK's force-inlined fromArray now (never refused), so only exp/log-like helpers count here:
        // the "losses" workload inlines 9 to 14 of them where C2 compiled its kernels
        assumeTrue(inlined >= 5, "C2 compiled too little to judge (a slow or busy machine); inlined helpers: "
                + inlined);
        assertTrue(refused.isEmpty(), () -> "C2 left Vector API helpers out of line (their vectors get boxed):\n"
                + refused.stream().distinct().collect(Collectors.joining("\n")));
    }
}
