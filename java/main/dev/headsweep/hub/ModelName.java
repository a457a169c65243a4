package dev.headsweep.hub;

import dev.headsweep.HeadSweepException;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A model named the way {@code from_pretrained} takes it: one of the GPT-2 sizes ({@code gpt2},
 * {@code gpt2-medium}, {@code gpt2-large}, {@code gpt2-xl}) or a Hugging Face repo id
 * {@code org/name}, either with an optional {@code @revision} (a branch, a tag or a commit hash;
 * default {@code main}).
 *
 * @param repoId the repo id as the hub and its cache spell it, e.g. {@code gpt2} or {@code org/name}
 * @param revision a branch, tag or 40-hex commit hash
 */
public record ModelName(String repoId, String revision) {
    /** The GPT-2 checkpoints OpenAI released, by the names {@code transformers} knows them under. */
    public static final List<String> GPT2_SIZES = List.of("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl");
    /** The revision used when a name gives none. */
    public static final String DEFAULT_REVISION = "main";

    /** How names are written, for error messages. */
    static final String SYNTAX = "gpt2, gpt2-medium, gpt2-large, gpt2-xl, or a Hugging Face repo id org/name,"
            + " optionally followed by @revision";

    /** One part of a repo id, as huggingface_hub's validate_repo_id allows it. */
    private static final Pattern PART = Pattern.compile("[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?");
    private static final Pattern REVISION = Pattern.compile("[A-Za-z0-9_.+-]+(?:/[A-Za-z0-9_.+-]+)*");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");
    private static final int MAX_REPO_ID = 96;

    /** @throws IllegalArgumentException if either part is malformed (see {@link #parse}) */
    public ModelName {
        String problem = repoIdProblem(repoId);
        if (problem == null) {
            problem = revisionProblem(revision);
        }
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
    }

    /**
     * Parses {@code gpt2}, {@code gpt2-xl@main}, {@code org/name}, {@code org/name@v1.0}, ...
     *
     * @throws HeadSweepException (one line) naming the text and saying what a name looks like
     */
    public static ModelName parse(String text) {
        int at = text.indexOf('@');
        String repo = at < 0 ? text : text.substring(0, at);
        String revision = at < 0 ? DEFAULT_REVISION : text.substring(at + 1);
        String problem = repoIdProblem(repo);
        if (problem == null) {
            problem = revisionProblem(revision);
        }
        if (problem != null) {
            throw new HeadSweepException("\"" + text + "\": no such file or folder, and not a model name (" + problem
                    + "); a name is " + SYNTAX);
        }
        return new ModelName(repo, revision);
    }

    /** Whether the revision is a full commit hash (which needs no {@code refs/} entry). */
    public boolean isCommit() {
        return COMMIT.matcher(revision).matches();
    }

    /** Whether {@code s} is a full (40 hex digit) commit hash. */
    static boolean isCommitHash(String s) {
        return s != null && COMMIT.matcher(s).matches();
    }

    /** The repo's folder in the hub cache: {@code models--gpt2}, {@code models--org--name}. */
    public String cacheFolder() {
        return "models--" + repoId.replace("/", "--");
    }

    /** As written: {@code gpt2}, {@code org/name@v1}; the default revision is left out. */
    @Override
    public String toString() {
        return DEFAULT_REVISION.equals(revision) ? repoId : repoId + "@" + revision;
    }

    private static String repoIdProblem(String repo) {
        if (repo == null || repo.isEmpty()) {
            return "the repo id is empty";
        }
        if (repo.length() > MAX_REPO_ID) {
            return "a repo id has at most " + MAX_REPO_ID + " characters";
        }
        String[] parts = repo.split("/", -1);
        if (parts.length > 2) {
            return "a repo id has at most one /";
        }
        for (String part : parts) {
            if (!PART.matcher(part).matches() || part.contains("--") || part.contains("..")) {
                return "\"" + part + "\" is not a valid repo or organisation name: use letters, digits, '_', '-'"
                        + " and '.', starting and ending with a letter or digit, without '--' or '..'";
            }
        }
        if (parts.length == 1 && !GPT2_SIZES.contains(repo)) {
            return "\"" + repo + "\" is none of the GPT-2 sizes, and other models need their org/ part";
        }
        return null;
    }

    private static String revisionProblem(String revision) {
        if (revision == null || revision.isEmpty()) {
            return "the revision after @ is empty";
        }
        if (!REVISION.matcher(revision).matches() || revision.contains("..")) {
            return "\"" + revision + "\" is not a valid revision (a branch, tag or commit hash)";
        }
        return null;
    }
}
