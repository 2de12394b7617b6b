"""The threshold bar: a slider over the model's useful range, its default marked, with what the value means."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QStyle, QStyleOptionSlider, QVBoxLayout, QWidget


class _MarkedSlider(QSlider):
    """A slider with a tick where the model's default threshold lies."""

    mark = -1

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.mark < 0:
            return
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        groove = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                             QStyle.SubControl.SC_SliderGroove, self)
        handle = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                             QStyle.SubControl.SC_SliderHandle, self)
        span = groove.width() - handle.width()
        x = groove.left() + handle.width() / 2 + span * (self.mark - self.minimum()) / max(1, self.maximum() - self.minimum())
        painter = QPainter(self)
        painter.setPen(QPen(self.palette().text().color(), 2))
        painter.drawLine(int(x), 0, int(x), 5)
        painter.drawLine(int(x), self.height() - 6, int(x), self.height())


class ThresholdBar(QWidget):
    """Slider for the decision threshold over the model's useful range, its default marked, with what it means."""

    changed = Signal(float)
    reset_requested = Signal()

    STEPS = 1000

    def __init__(self, parent=None):
        super().__init__(parent)
        self.minimum, self.maximum = 0.0, 2.0
        self.slider = _MarkedSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, self.STEPS)
        self.slider.setAccessibleName("Decision threshold")
        self.value_label = QLabel()
        self.value_label.setMinimumWidth(self.value_label.fontMetrics().horizontalAdvance("0.0000"))
        self.meaning = QLabel()
        self.meaning.setWordWrap(True)
        self.meaning.setStyleSheet("color: palette(placeholder-text);")
        self.reset = QPushButton("Model default")
        self.reset.setToolTip("Return to the threshold calibrated for this model (Ctrl+0); marked on the slider")
        self.reset.clicked.connect(self.reset_requested)
        top = QHBoxLayout()
        top.addWidget(QLabel("Threshold"))
        top.addWidget(self.slider, 1)
        top.addWidget(self.value_label)
        top.addWidget(self.reset)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.meaning)
        self.slider.valueChanged.connect(lambda v: self.changed.emit(self.value()))

    @property
    def step(self) -> float:
        return (self.maximum - self.minimum) / self.STEPS

    def set_range(self, minimum: float, maximum: float, default: float) -> None:
        """The model's useful range (ModelFile.useful_range) and its default threshold, marked on the groove."""
        value = self.value()
        self.minimum, self.maximum = minimum, maximum
        self.slider.mark = self._position(default)
        self.slider.blockSignals(True)
        self.set_value(value)
        self.slider.blockSignals(False)
        self.slider.update()

    def _position(self, value: float) -> int:
        return int(round((value - self.minimum) / (self.maximum - self.minimum) * self.STEPS))

    def value(self) -> float:
        return self.minimum + self.slider.value() * self.step

    def set_value(self, value: float) -> None:
        self.slider.setValue(max(0, min(self.STEPS, self._position(value))))

    def show_meaning(self, value: float, text: str) -> None:
        self.value_label.setText(f"{value:.3f}")
        self.meaning.setText(text)
