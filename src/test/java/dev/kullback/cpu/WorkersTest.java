package dev.kullback.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The thread team under every CPU operation: coverage, failures, concurrent and nested callers, shutdown. */
@Timeout(60)
class WorkersTest {
    private static void assertEachIndexOnce(Workers w, int n, int grain) {
        AtomicIntegerArray hits = new AtomicIntegerArray(n);
        w.forEach(n, grain, (from, to) -> {
            for (int i = from; i < to; i++) {
                hits.incrementAndGet(i);
            }
        });
        for (int i = 0; i < n; i++) {
            assertEquals(1, hits.get(i), "index " + i + " of " + n + ", grain " + grain);
        }
    }

    @Test
    void everyIndexRunsExactlyOnce() {
        for (int threads : new int[] {1, 2, 3, 8}) {
            Workers w = new Workers(threads, "test-cover");
            try {
                for (int n : new int[] {0, 1, 2, 7, 100, 4097}) {
                    for (int grain : new int[] {1, 3, 64, 5000}) {
                        for (int repeat = 0; repeat < 3; repeat++) { // back to back: helpers found spinning
                            assertEachIndexOnce(w, n, grain);
                        }
                    }
                }
            } finally {
                w.shutdown();
            }
        }
    }

    @Test
    void helpersTakeUnits() {
        Workers w = new Workers(2, "test-help");
        try {
            Set<Thread> ran = ConcurrentHashMap.newKeySet();
            w.forEach(16, 1, (from, to) -> {
                ran.add(Thread.currentThread());
                sleep(5);
            });
            assertEquals(2, ran.size(), "threads that ran units: " + ran);
        } finally {
            w.shutdown();
        }
    }

    @Test
    void aFailureOnAnyThreadReachesTheCallerAndTheTeamStaysUsable() {
        Workers w = new Workers(3, "test-fail");
        try {
            for (int failing : new int[] {0, 5, 15}) {
                IllegalStateException boom = new IllegalStateException("unit " + failing);
                IllegalStateException thrown = assertThrows(IllegalStateException.class,
                        () -> w.forEach(16, 1, (from, to) -> {
                            sleep(1);
                            if (from == failing) {
                                throw boom;
                            }
                        }));
                assertSame(boom, thrown);
                assertEachIndexOnce(w, 1000, 10);
            }
            AssertionError error = new AssertionError("an Error");
            assertSame(error, assertThrows(AssertionError.class, () -> w.forEach(4, 1, (from, to) -> {
                throw error;
            })));
        } finally {
            w.shutdown();
        }
    }

    @Test
    void concurrentAndNestedCallersAllComplete() throws Exception {
        Workers w = new Workers(2, "test-concurrent");
        ExecutorService callers = Executors.newFixedThreadPool(6);
        try {
            Future<?>[] f = new Future<?>[24];
            for (int c = 0; c < f.length; c++) {
                int n = 1000 + c;
                f[c] = callers.submit(() -> {
                    for (int k = 0; k < 20; k++) {
                        assertEachIndexOnce(w, n, 7);
                    }
                });
            }
            for (Future<?> future : f) {
                future.get(30, TimeUnit.SECONDS);
            }
            AtomicInteger inner = new AtomicInteger();
            w.forEach(8, 1, (from, to) -> w.forEach(10, 2, (a, b) -> inner.addAndGet(b - a)));
            assertEquals(80, inner.get());
        } finally {
            callers.shutdownNow();
            w.shutdown();
        }
    }

    @Test
    void afterShutdownTheCallerDoesEverything() {
        Workers w = new Workers(4, "test-shutdown");
        assertEachIndexOnce(w, 500, 5);
        w.shutdown();
        Set<Thread> ran = ConcurrentHashMap.newKeySet();
        w.forEach(100, 1, (from, to) -> ran.add(Thread.currentThread()));
        assertEquals(Set.of(Thread.currentThread()), ran);
    }

    @Test
    void grainGivesEachThreadAboutFourUnits() {
        Workers w = new Workers(4, "test-grain");
        try {
            assertEquals(1000, w.grain(16_000, 10));
            assertEquals(2000, w.grain(16_000, 2000)); // never below minGrain
            assertEquals(300, w.grain(100, 300));
            assertEquals(1, w.grain(0, 0));
        } finally {
            w.shutdown();
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
