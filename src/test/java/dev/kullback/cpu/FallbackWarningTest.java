package dev.kullback.cpu;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The warning a user without the Vector API module gets names the exact flags to add for the java launcher, Maven
 * Surefire and Gradle, on one line. (That it is logged once, by a JVM without the module: CpuDeviceTest.)
 */
class FallbackWarningTest {
    @Test
    void namesTheFlagsForJavaSurefireAndGradle() {
        String m = KernelsProvider.MODULE_MISSING;
        assertTrue(m.contains("jdk.incubator.vector module is not present"), m);
        assertTrue(m.contains("java --add-modules jdk.incubator.vector"), m);
        assertTrue(m.contains("<argLine>--add-modules jdk.incubator.vector</argLine>"), m);
        assertTrue(m.contains("jvmArgs '--add-modules', 'jdk.incubator.vector'"), m);
        assertTrue(m.contains("applicationDefaultJvmArgs = ['--add-modules', 'jdk.incubator.vector']"), m);
        assertFalse(m.contains("\n"), "one line");
    }
}
