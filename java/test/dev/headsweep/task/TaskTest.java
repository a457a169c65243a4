package dev.headsweep.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TaskTest {
    private static final List<Prompt> PROMPTS = List.of(new Prompt("a b", List.of("a", "b")));

    @Test
    void offersRelationsInOrder() {
        Task task = new Task("t", PROMPTS, List.of(Relation.prev(List.of()), Relation.copy()));
        assertEquals(List.of("prev", "copy"), List.copyOf(task.relations().keySet()));
    }

    @Test
    void defaultsToCopyAndNextWhenOffered() {
        Task task = new Task("t", PROMPTS, List.of(Relation.prev(List.of()), Relation.next(List.of()), Relation.copy()));
        assertEquals(List.of("copy", "next"), task.defaultRelations());
    }

    @Test
    void defaultsToAllRelationsWhenNeitherCopyNorNextIsOffered() {
        Relation upper = Relation.fromMap("upper", Map.of());
        Task task = new Task("t", PROMPTS, List.of(upper, Relation.prev(List.of())));
        assertEquals(List.of("upper", "prev"), task.defaultRelations());
    }

    @Test
    void rejectsAnInvalidTask() {
        assertThrows(IllegalArgumentException.class, () -> new Task("t", List.of(), List.of(Relation.copy())));
        assertThrows(IllegalArgumentException.class, () -> new Task("t", PROMPTS, List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> new Task("t", PROMPTS, List.of(Relation.copy(), Relation.copy())));
        assertThrows(IllegalArgumentException.class, () -> new Prompt("a", List.of()));
        assertThrows(IllegalArgumentException.class, () -> new Prompt("a", List.of(" ")));
    }
}
