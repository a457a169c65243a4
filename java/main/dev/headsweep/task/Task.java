package dev.headsweep.task;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A scoring task: prompts with keywords, and the relations (copy, next, ...) a head's output may be
 * scored against. Immutable.
 */
public final class Task {
    private final String name;
    private final List<Prompt> prompts;
    private final Map<String, Relation> relations;

    /**
     * @param name the task's name, as the user selects it
     * @param prompts at least one prompt
     * @param relations at least one relation, names distinct; their order is the order offered
     */
    public Task(String name, List<Prompt> prompts, List<Relation> relations) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("task name is blank");
        }
        this.name = name;
        this.prompts = List.copyOf(prompts);
        if (this.prompts.isEmpty()) {
            throw new IllegalArgumentException("task " + name + " has no prompts");
        }
        Map<String, Relation> byName = new LinkedHashMap<>();
        for (Relation relation : relations) {
            if (byName.put(relation.name(), relation) != null) {
                throw new IllegalArgumentException("task " + name + " has two relations named " + relation.name());
            }
        }
        if (byName.isEmpty()) {
            throw new IllegalArgumentException("task " + name + " has no relations");
        }
        this.relations = Collections.unmodifiableMap(byName);
    }

    /** The task's name. */
    public String name() {
        return name;
    }

    /** The prompts, in order. */
    public List<Prompt> prompts() {
        return prompts;
    }

    /** The relations this task offers, by name, in the order offered. */
    public Map<String, Relation> relations() {
        return relations;
    }

    /**
     * The relations scored when the user picks none: {@code copy} and {@code next}, those of the two
     * that the task offers, in that order; a task that offers neither scores all its relations.
     */
    public List<String> defaultRelations() {
        List<String> names = new ArrayList<>();
        for (String candidate : List.of("copy", "next")) {
            if (relations.containsKey(candidate)) {
                names.add(candidate);
            }
        }
        return names.isEmpty() ? List.copyOf(relations.keySet()) : List.copyOf(names);
    }

    @Override
    public String toString() {
        return "Task[" + name + ", " + prompts.size() + " prompts, relations " + relations.keySet() + "]";
    }
}
