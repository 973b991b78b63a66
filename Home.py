"""Home page: what each page teaches and how to use it. Imports no TensorFlow, so it appears at once."""

import streamlit as st

from ui.common import demo_mode

st.set_page_config(page_title="ML explainer", page_icon="🧠", layout="wide")
st.title("🧠 The machine-learning explainer")
st.write(
    "Six small labs, each with a real trained model you can poke at. Every number on every page is computed "
    "live by the model it describes. Pick a page in the sidebar."
)
if demo_mode():
    st.info("Demo mode is on: random seeds are fixed and expert controls are hidden.", icon="🎓")

PAGES = [
    (
        "🎨 Colors",
        "pages/1_Colors.py",
        "Pick a colour and watch a classifier's softmax over 9 colour families. Compare softmax with divide-by-sum and "
        "with a temperature, and see cross-entropy against the true family. Label colours yourself.",
        "Drag the colour picker or the R/G/B sliders; the bars update live.",
    ),
    (
        "✏️ Draw",
        "pages/2_Draw.py",
        "Draw a shape and a CNN names it while you draw. See how the drawing becomes the 28×28 input and what the "
        "first convolution filters see.",
        "Draw on the canvas with the mouse; if it is wrong, tell it what it was and the drawing becomes a sample.",
    ),
    (
        "📜 Text",
        "pages/3_Text.py",
        "A character-level LSTM trained on Shakespeare writes text one character at a time. See the next-character "
        "distribution at every step, and how temperature changes it.",
        "Type a seed, choose a temperature and length, press Generate, then step through the choices.",
    ),
    (
        "🏋️ Retrain",
        "pages/4_Retrain.py",
        "Retrain any model with your own epochs, batch size and learning rate, and watch loss, accuracy per class "
        "and the confusion matrix under the hood.",
        "Choose a model and settings, press Train, then make the new version active for your session.",
    ),
    (
        "🔬 Inspect",
        "pages/5_Inspect.py",
        "Open a saved model.json and read its layers against the binary weights file, byte by byte.",
        "Choose a model or upload model.json + its .bin; click a tensor to see its bytes and values.",
    ),
    (
        "🧭 Vector search",
        "pages/6_Vector_search.py",
        "Fine-tune a linear classifier head by querying a vector database with the head's own weights, labelling "
        "what comes back on a −1…+1 scale, and repeating.",
        "Start from a few positives or an existing class, label the results, press Train step, repeat.",
    ),
]

for title, path, what, how in PAGES:
    with st.container(border=True):
        st.page_link(path, label=title)
        st.write(what)
        st.caption(f"How to use it: {how}")

st.divider()
st.caption(
    "Add `?demo=1` to the address for demo mode in a class. Everything here runs offline; your labels, drawings and "
    "retrained versions stay on this server, and other people's sessions never see your active models."
)
