package dev.kullback;

/**
 * Where a rank's logit columns sit in the full vocabulary, for the vocabulary-parallel losses: local column
 * {@code c} is class {@code offset + c}, and local columns at or past {@code vocabSize - offset} are padding (the
 * last shard of a vocabulary split into equal widths, as Megatron-LM pads it) that take no part in the loss and get
 * a 0 gradient. Shards may also have unequal widths and no padding. Checked where it is used.
 */
public final class VocabShard {
    private final int offset;
    private final int vocabSize;

    private VocabShard(int offset, int vocabSize) {
        this.offset = offset;
        this.vocabSize = vocabSize;
    }

    /** The shard whose first column is class {@code offset} of a vocabulary of {@code vocabSize} classes. */
    public static VocabShard of(int offset, int vocabSize) {
        return new VocabShard(offset, vocabSize);
    }

    /**
     * Rank {@code rank}'s shard when {@code vocabSize} classes are split into {@code ranks} equal widths of
     * {@link #paddedWidth}: its offset is {@code rank · paddedWidth}.
     */
    public static VocabShard evenSplit(int rank, int ranks, int vocabSize) {
        if (ranks < 1 || rank < 0 || rank >= ranks) {
            throw new IllegalArgumentException("rank " + rank + " is not in [0, ranks = " + ranks + ")");
        }
        return new VocabShard(rank * paddedWidth(vocabSize, ranks), vocabSize);
    }

    /** ceil(vocabSize / ranks): the width of every shard of an equal split; the last one is padded. */
    public static int paddedWidth(int vocabSize, int ranks) {
        if (vocabSize < 1 || ranks < 1) {
            throw new IllegalArgumentException("vocabSize " + vocabSize + " and ranks " + ranks + " must be >= 1");
        }
        return (int) (((long) vocabSize + ranks - 1) / ranks);
    }

    /** The class of local column 0. */
    public int offset() {
        return offset;
    }

    /** The number of classes in the full, unpadded vocabulary. */
    public int vocabSize() {
        return vocabSize;
    }

    /** How many of {@code localVocab} local columns are classes (the rest are padding); 0 for an all-padding shard. */
    public int classesIn(int localVocab) {
        return (int) Math.max(0, Math.min(localVocab, (long) vocabSize - offset));
    }

    @Override
    public String toString() {
        return "VocabShard[offset " + offset + " of " + vocabSize + " classes]";
    }
}
