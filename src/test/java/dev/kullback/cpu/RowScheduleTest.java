package dev.kullback.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;

import org.junit.jupiter.api.Test;

/** Each family runs in its own copy of the row loops (see RowSchedule), and a copy runs every pass over every element. */
class RowScheduleTest {
    private static RowPhases.Family counting(int[] visits) {
        return (slots, rowSlots, whole) -> new RowPhases() {
            @Override
            public void stats(int r, int slot, int from, int to) {
                add(from, to);
            }

            @Override
            public void combine(int r, int first, int chunks, int rowSlot) {
            }

            @Override
            public void write(int r, int slot, int rowSlot, int from, int to) {
                add(from, to);
            }

            private synchronized void add(int from, int to) {
                for (int i = from; i < to; i++) {
                    visits[i]++;
                }
            }
        };
    }

    @Test
    void everyFamilyClassHasItsOwnHiddenCopyOfTheLoops() {
        RowPhases.Family a = counting(new int[1]);
        RowPhases.Family b = counting(new int[1]);
        RowPhases.Family c = (slots, rowSlots, whole) -> null;
        assertTrue(RowSchedule.loops(a).getClass().isHidden(), "loops are copied, not shared");
        assertSame(RowSchedule.loops(a), RowSchedule.loops(b), "one copy per family class");
        assertNotSame(RowSchedule.loops(a).getClass(), RowSchedule.loops(c).getClass());
        assertNotSame(RowLoop.class, RowSchedule.loops(c).getClass());
    }

    @Test
    void aCopyVisitsEveryElementOncePerPassByRowsAndByChunks() {
        Workers workers = new Workers(2, "row-schedule-test");
        try {
            RowSchedule schedule = new RowSchedule(workers);
            for (int[] shape : new int[][] {{64, 33}, {3, 3 * RowSchedule.CHUNK + 5}, {1, RowSchedule.CHUNK}}) {
                int[] visits = new int[shape[0] * shape[1]];
                schedule.run(shape[0], shape[1], counting(visits));
                int[] twice = new int[visits.length];
                Arrays.fill(twice, 2);
                assertArrayEquals(twice, visits, () -> "shape " + shape[0] + " x " + shape[1]);
            }
        } finally {
            workers.shutdown();
        }
    }
}
