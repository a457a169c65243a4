package dev.headsweep.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RelationTest {
    private static final List<String> ABC = List.of("a", "b", "c");

    @Test
    void copyMapsAWordToItself() {
        Relation copy = Relation.copy();
        assertEquals("copy", copy.name());
        assertEquals(List.of("x"), copy.targets("x"));
    }

    @Test
    void nextAndPrevFollowTheSequenceWithoutWrapping() {
        Relation next = Relation.next(ABC);
        Relation prev = Relation.prev(ABC);
        assertEquals("next", next.name());
        assertEquals("prev", prev.name());
        assertEquals(List.of("b"), next.targets("a"));
        assertEquals(List.of(), next.targets("c"));
        assertEquals(List.of("b"), prev.targets("c"));
        assertEquals(List.of(), prev.targets("a"));
        assertEquals(List.of(), next.targets("z"));
    }

    @Test
    void fromMapLooksWordsUpAndDefaultsToNoTarget() {
        Relation upper = Relation.fromMap("upper", Map.of("a", List.of("A"), "b", List.of("B", "Bee")));
        assertEquals(List.of("B", "Bee"), upper.targets("b"));
        assertEquals(List.of(), upper.targets("c"));
    }

    @Test
    void ofWrapsAFunction() {
        Relation twice = Relation.of("twice", w -> List.of(w + w));
        assertEquals(List.of("abab"), twice.targets("ab"));
    }

    @Test
    void rejectsBlankName() {
        assertThrows(IllegalArgumentException.class, () -> Relation.of(" ", List::of));
    }
}
