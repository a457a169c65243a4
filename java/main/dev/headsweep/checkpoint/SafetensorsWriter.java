package dev.headsweep.checkpoint;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.headsweep.HeadSweepException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Writes safetensors files and GPT-2 checkpoint directories (used to plant test checkpoints and
 * to convert weights).
 *
 * <p>Each file is written to a temporary file in the target's directory and then moved over the
 * target atomically, so a reader sees either the old file or the complete new one. Data streams
 * through one fixed direct buffer; nothing is copied whole.
 */
public final class SafetensorsWriter {
    private static final int BUFFER_BYTES = 4 << 20;

    private SafetensorsWriter() {}

    /**
     * Writes {@code tensors}, in order and rounded to {@code dtype} (to nearest, ties to even), to
     * {@code file}, replacing it atomically. Each name is stored as {@code prefix + name}. The
     * header is space-padded so that the data starts at a multiple of 8 bytes.
     *
     * @param prefix prepended to every name, e.g. {@code "transformer."}; may be empty
     * @throws IllegalArgumentException if two stored names are equal, or one is empty or {@code __metadata__}
     * @throws HeadSweepException naming {@code file} if it cannot be written
     */
    public static void write(Path file, List<NamedTensor> tensors, Dtype dtype, String prefix) {
        byte[] header = header(tensors, dtype, prefix);
        atomically(file, channel -> {
            ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            buffer.putLong(header.length).flip();
            writeFully(channel, buffer);
            writeFully(channel, ByteBuffer.wrap(header));
            buffer.clear();
            for (NamedTensor t : tensors) {
                float[] data = t.data();
                for (int done = 0; done < data.length; ) {
                    if (buffer.remaining() < dtype.byteSize()) {
                        writeFully(channel, buffer.flip());
                        buffer.clear();
                    }
                    int n = Math.min(data.length - done, buffer.remaining() / dtype.byteSize());
                    dtype.encode(data, done, n, buffer);
                    done += n;
                }
            }
            writeFully(channel, buffer.flip());
        });
    }

    /**
     * Writes a checkpoint directory: {@code config.json} from {@code config} and
     * {@code model.safetensors} from {@code tensors} (see {@link #write}). Creates {@code dir} if
     * needed. Whether the tensors match the config is not checked here; {@link Checkpoint#open} does.
     */
    public static void writeCheckpoint(Path dir, GptConfig config, List<NamedTensor> tensors, Dtype dtype, String prefix) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new HeadSweepException(dir + ": cannot create the directory: " + Json.firstLine(e.getMessage()), e);
        }
        byte[] json = config.toJson().getBytes(StandardCharsets.UTF_8);
        atomically(dir.resolve(Checkpoint.CONFIG_FILE), channel -> writeFully(channel, ByteBuffer.wrap(json)));
        write(dir.resolve(Checkpoint.WEIGHTS_FILE), tensors, dtype, prefix);
    }

    /** The JSON header, padded with spaces to a multiple of 8 bytes. */
    private static byte[] header(List<NamedTensor> tensors, Dtype dtype, String prefix) {
        JsonObject header = new JsonObject();
        JsonObject metadata = new JsonObject();
        metadata.addProperty("format", "pt");
        header.add("__metadata__", metadata);
        Set<String> names = new HashSet<>();
        long offset = 0;
        for (NamedTensor t : tensors) {
            String name = prefix + t.name();
            if (name.isEmpty() || name.equals("__metadata__") || !names.add(name)) {
                throw new IllegalArgumentException("cannot store a tensor named \"" + name + "\" (empty, reserved or repeated)");
            }
            JsonArray shape = new JsonArray();
            for (long dim : t.shape()) {
                shape.add(dim);
            }
            long end = offset + (long) t.data().length * dtype.byteSize();
            JsonArray offsets = new JsonArray();
            offsets.add(offset);
            offsets.add(end);
            JsonObject entry = new JsonObject();
            entry.addProperty("dtype", dtype.name());
            entry.add("shape", shape);
            entry.add("data_offsets", offsets);
            header.add(name, entry);
            offset = end;
        }
        String text = new GsonBuilder().disableHtmlEscaping().create().toJson(header);
        int length = text.getBytes(StandardCharsets.UTF_8).length;
        return (text + " ".repeat((8 - length % 8) % 8)).getBytes(StandardCharsets.UTF_8);
    }

    /** Something that fills a file through its channel. */
    @FunctionalInterface
    private interface Body {
        void writeTo(FileChannel channel) throws IOException;
    }

    /** Writes {@code target} via a temporary sibling that is then moved over it atomically. */
    private static void atomically(Path target, Body body) {
        Path dir = target.toAbsolutePath().getParent();
        Path temp = null;
        try {
            temp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                body.writeTo(channel);
                channel.force(true);
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
            temp = null;
        } catch (IOException e) {
            throw new HeadSweepException(target + ": cannot write: " + Json.firstLine(e.getMessage()), e);
        } finally {
            if (temp != null) {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException ignored) {
                    // The write already failed; that error is the one to report.
                }
            }
        }
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }
}
